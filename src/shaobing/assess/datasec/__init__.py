"""Data security assessment (E3).

A lifecycle questionnaire, evidence from findings, scores per stage, gaps as work orders.
"""
