"""Messages are composed once, when accepted, and kept as their exact bytes (Message.raw).

Existing messages are composed here from the fields this migration then removes, with
their own Message-ID and date, so a message still waiting is delivered as before and a
finished one keeps its page. Attachments live only in the bytes from now on.
"""

import dataclasses

from django.db import migrations, models

BATCH = 500


def _settings(version):
    """The frozen settings the composer reads, from a historical version: engine fields,
    which composing does not need, stay blank."""
    from emailconfig.delivery import Address, DeliverySettings

    blanks = {f.name: None for f in dataclasses.fields(DeliverySettings)}
    return DeliverySettings(
        **blanks
        | {
            "label": f"version {version.number}",
            "engine": version.engine,
            "sender": Address(version.from_email, version.from_name),
            "reply_to": Address(version.reply_to) if version.reply_to else None,
            "subject_prefix": version.subject_prefix,
            "recipients_mode": version.recipients_mode,
            "test_recipients": tuple(Address.from_stored(r) for r in version.test_recipients),
        }
    )


def compose_stored_messages(apps, schema_editor):
    from emailconfig.composer import AttachmentData, ComposeError, EmailRequest, compose
    from emailconfig.delivery import Address

    Message = apps.get_model("emailconfig", "Message")
    versions = {}
    last_pk = None
    while True:
        batch = Message.objects.order_by("pk").prefetch_related("attachments")
        batch = list((batch.filter(pk__gt=last_pk) if last_pk else batch)[:BATCH])
        if not batch:
            return
        for message in batch:
            if message.version_id not in versions:
                versions[message.version_id] = _settings(message.version)

            def addresses(kind, message=message):
                return tuple(Address.from_stored(a) for a in message.recipients.get(kind, []))

            request = EmailRequest(
                subject=message.subject,
                text=message.text,
                html=message.html,
                to=addresses("to"),
                cc=addresses("cc"),
                bcc=addresses("bcc"),
                reply_to=Address.from_stored(message.reply_to) if message.reply_to else None,
                headers=message.headers,
                message_id=message.message_id,
                attachments=tuple(
                    AttachmentData(a.filename, a.content_type, bytes(a.content))
                    for a in message.attachments.all()
                ),
            )
            try:
                composed = compose(request, versions[message.version_id], now=message.created_at)
            except ComposeError as exc:  # as the worker did: such a message cannot be sent
                message.envelope_from = ""
                if message.status in ("queued", "deferred", "sending"):
                    message.status, message.last_error = "failed", f"Cannot compose: {exc}"
                continue
            message.raw, message.envelope_from = composed.raw, composed.envelope_from
        Message.objects.bulk_update(batch, ["raw", "envelope_from", "status", "last_error"])
        last_pk = batch[-1].pk


def restore_fields(apps, schema_editor):
    """Going back: the old columns and attachment rows, read back from the stored bytes."""
    from emailconfig import mime
    from emailconfig.composer import ALLOWED_HEADERS

    Message = apps.get_model("emailconfig", "Message")
    Attachment = apps.get_model("emailconfig", "Attachment")
    for message in Message.objects.exclude(raw=b"").iterator(chunk_size=BATCH):
        shown = mime.read(bytes(message.raw))
        message.text, message.html = shown.text, shown.html
        message.headers = {
            name: value
            for name, value in shown.headers
            if name.lower() in ALLOWED_HEADERS
            or (name.lower().startswith("x-") and not name.lower().startswith("x-stagemail-"))
        }
        reply_to = shown.addresses("Reply-To")
        message.reply_to = vars(reply_to[0]) if reply_to else None
        message.save(update_fields=["text", "html", "headers", "reply_to"])
        Attachment.objects.bulk_create(
            Attachment(
                message=message,
                filename=a.filename,
                content_type=a.content_type,
                content=a.content,
            )
            for a in shown.attachments
        )


class Migration(migrations.Migration):
    dependencies = [
        ("emailconfig", "0007_daily_rollup"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="raw",
            field=models.BinaryField(
                default=b"", help_text="The message exactly as it goes on the wire (RFC 5322)."
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="message",
            name="envelope_from",
            field=models.CharField(default="", max_length=320, verbose_name="envelope sender"),
            preserve_default=False,
        ),
        migrations.RunPython(compose_stored_messages, restore_fields, elidable=True),
        migrations.RemoveField(model_name="message", name="text"),
        migrations.RemoveField(model_name="message", name="html"),
        migrations.RemoveField(model_name="message", name="headers"),
        migrations.RemoveField(model_name="message", name="reply_to"),
        migrations.DeleteModel(name="Attachment"),
        migrations.AlterField(
            model_name="message",
            name="final_recipients",
            field=models.JSONField(
                default=list,
                help_text="The envelope's recipients, after any test-list redirection.",
            ),
        ),
        migrations.AlterField(
            model_name="deliveryattempt",
            name="message",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=models.DO_NOTHING,
                related_name="attempts",
                to="emailconfig.message",
            ),
        ),
    ]
