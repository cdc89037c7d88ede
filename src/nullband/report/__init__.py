"""nullband.report"""
