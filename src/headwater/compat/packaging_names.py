"""``metaflow.packaging_sys``: where Metaflow defines ``ContentType``, the kinds of file an
``add_to_package`` hook returns (:mod:`headwater.decorators.package_hooks`)."""

from __future__ import annotations

from headwater.decorators.package_hooks import ContentType

__all__ = ["ContentType"]
