"""Alerts as they happen: rule states over time, and proof that notifications reached Telegram.

    alerts    rule engines' alert states, polled into a timeline of transitions
    delivery  Telegram evidence: sandbox messages, Alertmanager's notification counters
    verify    `slo verify-alerts`: rule states, a test alert proven delivered, waiting for a state
"""
