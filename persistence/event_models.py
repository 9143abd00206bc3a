"""Tortoise models for telling partners about reward events: per-customer event
numbering, webhook endpoints, their deliveries and every attempt. The outbox itself is
`models.RewardEvent`."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


# The last sequence number given to a customer's events; the row is upserted in the
# transaction that writes the events, so its lock orders one customer's writers.
class CustomerEventSequence(Model):
    customer_external_id = fields.CharField(max_length=128, primary_key=True)
    last_sequence = fields.BigIntField()

    class Meta:
        table = "customer_event_sequences"


# How far a reader that must not miss an event (the webhook fan-out) has read the outbox.
class OutboxCursor(Model):
    name = fields.CharField(max_length=64, primary_key=True)
    last_event_id = fields.BigIntField()

    class Meta:
        table = "outbox_cursors"


# A partner's endpoint. `previous_secret` still signs until `previous_secret_until`, so a
# rotation needs no downtime (both signatures are sent meanwhile).
class Webhook(Model):
    id = fields.BigIntField(primary_key=True)
    url = fields.CharField(max_length=2000)
    event_types: fields.JSONField[list[str] | None] = fields.JSONField(null=True)
    secret = fields.CharField(max_length=128)
    previous_secret = fields.CharField(max_length=128, null=True)
    previous_secret_until = fields.DatetimeField(null=True)
    enabled = fields.BooleanField(default=True)
    disabled_reason = fields.CharField(max_length=1000, null=True)
    disabled_at = fields.DatetimeField(null=True)
    created_by = fields.CharField(max_length=200)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    last_success_at = fields.DatetimeField(null=True)

    class Meta:
        table = "webhooks"


# One event to one endpoint, delivered at least once: `pending` until an attempt gets a
# 2xx (`delivered`) or the retry schedule runs out (`failed`). Claimed by a worker by
# setting `locked_until`, so that several workers never send it at once on purpose, and
# `claim_token`, which the recording of the claim's attempt must still find (a redelivery
# clears it: the attempt in flight then no longer overwrites the new schedule).
class WebhookDelivery(Model):
    id = fields.BigIntField(primary_key=True)
    webhook: fields.ForeignKeyRelation[Webhook] = fields.ForeignKeyField(
        "models.Webhook", related_name="deliveries", on_delete=fields.CASCADE
    )
    event: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.RewardEvent", related_name=False, on_delete=fields.RESTRICT
    )
    status = fields.CharField(max_length=16)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    locked_until = fields.DatetimeField(null=True)
    claim_token = fields.CharField(max_length=32, null=True)
    last_status_code = fields.IntField(null=True)
    last_error = fields.CharField(max_length=1000, null=True)
    created_at = fields.DatetimeField()
    delivered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "webhook_deliveries"
        unique_together = (("webhook_id", "event_id"),)
        indexes = (("status", "next_attempt_at"),)


# Append-only log of every HTTP attempt: what the endpoint answered and how fast.
class WebhookAttempt(Model):
    id = fields.BigIntField(primary_key=True)
    delivery: fields.ForeignKeyRelation[WebhookDelivery] = fields.ForeignKeyField(
        "models.WebhookDelivery", related_name="attempt_log", on_delete=fields.CASCADE
    )
    attempt = fields.IntField()
    status_code = fields.IntField(null=True)
    latency_ms = fields.IntField()
    error = fields.CharField(max_length=1000, null=True)
    attempted_at = fields.DatetimeField()

    class Meta:
        table = "webhook_attempts"
