"""nullband.stats"""
