"""nullband.judges"""
