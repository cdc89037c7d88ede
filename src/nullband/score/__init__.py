"""nullband.score"""
