"""The ``[billing_state]`` configuration section: where Stripe's billing state lands.

Theory of operation: a plain frozen pydantic model read by ``config.Settings`` like the
other sections (TOML, then ``SF_STRIPE_SYNC__BILLING_STATE__...`` environment variables).
Every Salesforce name has a default, so an org deploying ``sfdx/`` needs no setting.
The subscription state fields live on the Contract and on the Order that created the
schedule, under the same names; ``Stripe_Invoice__c`` holds one record per invoice,
matched on its external id ``Stripe_Invoice_Id__c``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BillingStateSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # subscription state, on Contract and Order
    schedule_status: str = "Stripe_Schedule_Status__c"
    subscription_id: str = "Stripe_Subscription_Id__c"
    subscription_status: str = "Stripe_Subscription_Status__c"
    phase_start: str = "Stripe_Current_Phase_Start__c"
    phase_end: str = "Stripe_Current_Phase_End__c"
    next_invoice_date: str = "Stripe_Next_Invoice_Date__c"

    # one record per invoice
    invoice_object: str = "Stripe_Invoice__c"
    invoice_id: str = "Stripe_Invoice_Id__c"
    """The external id (unique, case-sensitive Stripe id) invoices are upserted on."""
    invoice_number: str = "Invoice_Number__c"
    invoice_status: str = "Status__c"
    invoice_currency: str = "Currency__c"
    amount_due: str = "Amount_Due__c"
    amount_paid: str = "Amount_Paid__c"
    amount_remaining: str = "Amount_Remaining__c"
    period_start: str = "Period_Start__c"
    period_end: str = "Period_End__c"
    due_date: str = "Due_Date__c"
    hosted_invoice_url: str = "Hosted_Invoice_Url__c"
    invoice_customer: str = "Stripe_Customer_Id__c"
    invoice_subscription: str = "Stripe_Subscription_Id__c"
    invoice_schedule: str = "Stripe_Subscription_Schedule_Id__c"
    invoice_account: str = "Account__c"
    invoice_contract: str = "Contract__c"
    invoice_order: str = "Order__c"

    event_page_size: int = Field(default=100, ge=1, le=100)
    webhook_secret_env: str = "STRIPE_BILLING_WEBHOOK_SECRET"
    """Variable (or secrets-file key) holding the billing webhook endpoint's secret."""
    invoices_shown: int = Field(default=5, ge=1, le=100)
    """How many recent invoices ``billing status`` lists."""

    def state_fields(self) -> tuple[str, ...]:
        return (self.schedule_status, self.subscription_id, self.subscription_status,
                self.phase_start, self.phase_end, self.next_invoice_date)
