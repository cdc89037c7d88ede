"""nullband.testserver"""
