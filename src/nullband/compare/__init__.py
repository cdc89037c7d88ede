"""nullband.compare"""
