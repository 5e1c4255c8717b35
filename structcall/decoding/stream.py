"""Find tool calls as they complete in a growing output, for streaming: the core's
`structcall.split.CallSplitter`, which reads each format's envelope from its entry."""

from __future__ import annotations

from structcall.split import CallSplitter

__all__ = ["CallSplitter"]
