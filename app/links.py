"""Addresses the service writes into its answers (self, next, collection, tile templates)."""

from __future__ import annotations

from fastapi import Request


def root(request: Request) -> str:
    """The service's base address as the client reached it, without a trailing slash."""
    return str(request.base_url).rstrip("/")
