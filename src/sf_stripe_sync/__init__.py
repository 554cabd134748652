"""sf-stripe-sync: activated Salesforce Orders to Stripe subscription schedules."""

__version__ = "0.1.0"
