"""Shared fixtures: personas and the Stagemail data they work on."""

from __future__ import annotations
