from nullband._cli.main import main

main()
