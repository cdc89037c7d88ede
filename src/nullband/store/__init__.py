"""nullband.store"""
