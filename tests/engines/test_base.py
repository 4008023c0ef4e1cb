"""What every engine shares: a failure is a result, and its text never reaches the log."""

from emailconfig.composer import compose
from emailconfig.engines.base import Engine
from emailconfig.models import Outcome
from tests.factories import delivery_settings, request


class QuotingEngine(Engine):
    """An engine whose library fails with a message that quotes its credentials."""

    secret = "SG." + "TOPSECRET"  # built, so the traceback's source line does not hold it

    def deliver(self, message):
        raise ValueError(f"Invalid header value b'Bearer {self.secret}'")

    def close(self):
        pass


def test_an_unexpected_error_is_named_by_type_only(caplog):
    settings = delivery_settings()
    [result] = [QuotingEngine(settings).send(compose(request(), settings).wire)]
    assert result.outcome == Outcome.TEMPORARY
    assert result.answer == "Unexpected error in the delivery engine (ValueError)"
    assert "unexpected ValueError in QuotingEngine" in caplog.text
    assert "TOPSECRET" not in caplog.text
