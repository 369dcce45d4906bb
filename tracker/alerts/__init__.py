"""Metric alerts: rules over metrics, their episodes and events, and deliveries to channels."""
