"""nullband.load"""
