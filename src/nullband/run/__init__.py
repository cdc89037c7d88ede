"""nullband.run"""
