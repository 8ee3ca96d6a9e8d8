"""Form field types the page routes share (FastAPI form parameters with their length limits)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form

Csrf = Annotated[str, Form(max_length=200)]
Text = Annotated[str, Form(max_length=2000)]
Code = Annotated[str, Form(max_length=32)]
