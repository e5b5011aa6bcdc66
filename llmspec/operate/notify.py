"""Rollout events and firing monitor alerts, posted to the webhooks of `serving.notifications`
as Slack-compatible JSON.

A webhook's URL is usually a secret (a Slack incoming webhook carries its token in the path),
so it is resolved here, in the process that posts, and never written into a diagnostic: a
webhook is named by its place in the spec and its secret's name, or by its host when the URL is
written out. Delivery is best effort: a webhook that cannot be reached gives an LS875
diagnostic, never an exception, so a lost notification does not fail the rollout or the
monitor run that sent it.
"""

from __future__ import annotations

import http.client
import json
import math
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple
from urllib.parse import urlsplit

from llmspec.core.diagnostics import Diagnostic, Severity, Span
from llmspec.core.secrets import SecretRef
from llmspec.version import __version__

if TYPE_CHECKING:
    from llmspec.operate.monitor import MonitorReport
    from llmspec.spec.rollout import Webhook

Kind = Literal["rollout", "alert"]
# info: a step or a completed rollout; warning: a firing alert; danger: a rollback
Level = Literal["info", "warning", "danger"]

BACKOFF_S = 0.5  # the wait before the second attempt, doubled before each one after it
BACKOFF_CAP_S = 8.0
RETRY_AFTER_CAP_S = 30.0  # a receiver's Retry-After is honoured up to this
EMOJI = {"info": ":large_blue_circle:", "warning": ":warning:", "danger": ":red_circle:"}
# Block Kit's limits: a header's text, a section's text, fields per section, a field's text
HEADER_MAX, TEXT_MAX, FIELDS_MAX, FIELD_MAX = 150, 3000, 10, 2000
USER_AGENT = f"llmspec/{__version__}"


@dataclass(frozen=True)
class Event:
    """Something the people who run the app should hear about: a rollout's step or decision,
    or a monitor alert that fired. ``fields`` are short name → value pairs shown side by side;
    ``text`` may use Slack's mrkdwn (`code`, *bold*)."""

    kind: Kind
    title: str
    text: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)
    level: Level = "info"


def payload(event: Event, app: str, env: str) -> dict[str, Any]:
    """The JSON body: Slack's ``text`` (the fallback its notifications show) and ``blocks``,
    plus an ``llmspec`` object with the event as data for receivers that are not Slack (Slack
    ignores keys it does not know)."""
    headline = f"{app} ({env}): {event.title}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                # a header is plain text, where backticks would show as they are
                "text": _cut(f"{EMOJI[event.level]} {headline}".replace("`", ""), HEADER_MAX),
                "emoji": True,
            },
        }
    ]
    if event.text:
        section = {"type": "mrkdwn", "text": _cut(_escape(event.text), TEXT_MAX)}
        blocks.append({"type": "section", "text": section})
    pairs = [
        {"type": "mrkdwn", "text": _cut(f"*{_escape(k)}*\n{_escape(v)}", FIELD_MAX)}
        for k, v in event.fields.items()
    ]
    for start in range(0, len(pairs), FIELDS_MAX):
        blocks.append({"type": "section", "fields": pairs[start : start + FIELDS_MAX]})
    context = {"type": "mrkdwn", "text": f"llmspec · {event.kind} · {app} · {env}"}
    blocks.append({"type": "context", "elements": [context]})
    fallback = _escape(headline + (f": {event.text}" if event.text else ""))
    machine = {
        "kind": event.kind,
        "level": event.level,
        "app": app,
        "env": env,
        "title": event.title,
        "text": event.text,
        "fields": dict(event.fields),
    }
    return {"text": fallback, "blocks": blocks, "llmspec": machine}


def notify(
    target: Any,
    event: Event,
    *,
    sleep: Callable[[float], None] = time.sleep,
    environ: dict[str, str] | None = None,
) -> list[Diagnostic]:
    """Post ``event`` to every webhook of ``target`` (a Workspace, a ResolvedSpec or a Spec)
    that takes its kind. Connection errors, timeouts, 5xx and 429 are retried, with the
    webhook's `retries`, after an exponential backoff (or the receiver's Retry-After); any
    other answer is final. Returns an LS875 diagnostic per webhook that did not take it."""
    spec, app, env, document = _target(target)
    body = json.dumps(payload(event, app, env)).encode("utf-8")
    out = []
    for index, hook in enumerate(spec.serving.notifications.webhooks):
        if event.kind not in hook.events:
            continue
        path = ("serving", "notifications", "webhooks", index, "url")
        span = document.span(path) if document is not None else None
        problem = _deliver(index, hook, body, event.kind, sleep, environ, span)
        if problem is not None:
            out.append(problem)
    return out


def alert_events(report: MonitorReport) -> list[Event]:
    """One event per alert of ``report`` that fired (an alert with no data does not fire)."""
    out = []
    for alert in report.alerts:
        if alert.passed:
            continue
        value = "no data" if alert.value is None else f"{alert.value:.4g}"
        fields = {"condition": alert.alert, "value": value, "window": alert.window}
        text = f"`{alert.alert}` does not hold over the last {alert.window}: the figure is {value}."
        if alert.action == "retrain":
            marked = ", ".join(report.marked) or "nothing (see `llmspec monitor`)"
            fields["marked for retraining"] = marked
        out.append(Event("alert", f"alert `{alert.alert}` fired", text, fields, "warning"))
    return out


class _Outcome(NamedTuple):
    """One attempt's result; ``reason`` never holds the URL."""

    ok: bool
    reason: str
    retry: bool = False
    retry_after: float | None = None


def _deliver(
    index: int,
    hook: Webhook,
    body: bytes,
    kind: str,
    sleep: Callable[[float], None],
    environ: dict[str, str] | None,
    span: Span | None,
) -> Diagnostic | None:
    if isinstance(hook.url, SecretRef):
        name = f"webhook {index} ({hook.url})"
        try:
            url = hook.url.resolve(environ)
        except LookupError:
            message = f"{name}: secret {hook.url.name} is not set; the {kind} event was not sent"
            hint = f"set {hook.url.name} in the environment of the process that sends it"
            return Diagnostic("LS875", message, span, hint, severity=Severity.NOTE)
    else:
        url = hook.url
        name = f"webhook {index} ({_host(url)})"
    if urlsplit(url).scheme not in ("http", "https"):
        message = f"{name} is not an http(s) URL; the {kind} event was not sent"
        return Diagnostic("LS875", message, span, severity=Severity.WARNING)
    attempts = hook.retries + 1
    for attempt in range(1, attempts + 1):
        outcome = _post(url, body, hook.timeout_s)
        if outcome.ok:
            return None
        if not outcome.retry or attempt == attempts:
            break
        sleep(_wait(attempt, outcome.retry_after))
    tries = f"{attempt} attempt" + ("s" if attempt > 1 else "")
    message = f"{name}: the {kind} event was not delivered: {outcome.reason}, after {tries}"
    final = None if outcome.retry else "the receiver refused it; retrying would not help"
    return Diagnostic("LS875", message, span, final, severity=Severity.WARNING)


def _post(url: str, body: bytes, timeout: float) -> _Outcome:
    """One POST; every failure becomes a reason in words, never the exception's text (which
    can quote the URL)."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return _Outcome(True, f"HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        retry = exc.code >= 500 or exc.code == 429
        detail = _scrub(_read(exc), url)
        reason = f"HTTP {exc.code}" + (f" ({detail})" if detail else "")
        return _Outcome(False, reason, retry, _retry_after(exc.headers.get("Retry-After")))
    except urllib.error.URLError as exc:
        cause = exc.reason
        if isinstance(cause, TimeoutError):
            return _Outcome(False, f"no answer within {timeout:g} s", True)
        return _Outcome(False, _why(cause), True)
    except TimeoutError:  # the connection opened but no answer came in time
        return _Outcome(False, f"no answer within {timeout:g} s", True)
    except (OSError, http.client.HTTPException) as exc:  # e.g. the receiver hung up
        return _Outcome(False, _why(exc), True)


def _why(cause: object) -> str:
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, ConnectionResetError):
        return "connection reset"
    if isinstance(cause, http.client.RemoteDisconnected):
        return "the receiver closed the connection without answering"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror.lower()
    return type(cause).__name__


def _wait(attempt: int, retry_after: float | None) -> float:
    """Seconds before attempt ``attempt + 1``: the receiver's Retry-After, else the backoff."""
    if retry_after is not None:
        return min(retry_after, RETRY_AFTER_CAP_S)
    return min(BACKOFF_S * 2.0 ** (attempt - 1), BACKOFF_CAP_S)


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds; its HTTP-date form (or nonsense) falls back to the backoff."""
    try:
        seconds = float(value or "")
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _read(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read(500).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        return ""


def _scrub(text: str, url: str) -> str:
    """A receiver's answer on one short line, with the URL and its path (the token) removed."""
    parts = urlsplit(url)
    for secret in (url, parts.path + (f"?{parts.query}" if parts.query else ""), parts.path):
        if len(secret) > 1:
            text = text.replace(secret, "…")
    return _cut(" ".join(text.split()), 120)


def _host(url: str) -> str:
    """Where a written-out URL points, without its user, path or query."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "an invalid URL"
    return f"{parts.hostname}{port}" if parts.hostname else "an invalid URL"


def _target(target: Any) -> tuple[Any, str, str, Any]:
    """(spec, app, env, document) of a Workspace, a ResolvedSpec or a bare Spec."""
    from llmspec.engine.step import DEFAULT_ENV

    resolved = getattr(target, "resolved", target)  # a Workspace holds its ResolvedSpec
    spec = getattr(resolved, "spec", resolved)
    env = getattr(resolved, "env", None) or DEFAULT_ENV
    return spec, spec.metadata.name, env, getattr(resolved, "document", None)


def _escape(text: str) -> str:
    # Slack reads &, < and > as markup (`<!channel>` pings everyone)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
