"""SMTP submission for apps: `manage.py run_smtp_ingress` (see README, "SMTP submission").

reading.py turns the submitted bytes and envelope into the API's Submission; server.py is
the aiosmtpd side (sign-in with the API's tokens, throttling, TLS, the replies).
"""
