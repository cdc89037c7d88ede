"""nullband.traces"""
