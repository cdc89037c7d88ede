"""nullband.targets"""
