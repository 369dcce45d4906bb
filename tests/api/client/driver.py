"""A user's program over a client generated from the served schema (openapi-python-client).

`tests/api/test_generated_client.py` generates `tracker_client`, type-checks this file with
`mypy --strict` against it, and runs it against a live tracker:

    python driver.py BASE_URL USERNAME PASSWORD

Every call goes through the generated functions and models; nothing parses raw HTTP.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from tracker_client import AuthenticatedClient, Client
from tracker_client.api.auth import auth_token_create
from tracker_client.api.me import me_retrieve
from tracker_client.api.metrics import (
    metrics_buckets,
    metrics_list,
    metrics_records,
    metrics_records_csv,
    metrics_retrieve,
)
from tracker_client.api.pairs import pairs_list, pairs_partial_update
from tracker_client.models import (
    Bucket,
    CredentialsRequest,
    Error,
    FieldErrors,
    Interval,
    IssuedToken,
    Metric,
    MetricDetail,
    Pair,
    PatchedPairRequest,
    Range,
    Record,
    User,
)


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"failed: {what}")


def read_anonymously(client: Client) -> int:
    metrics = metrics_list.sync(client=client)
    check(isinstance(metrics, list) and len(metrics) > 0, "list metrics")
    assert isinstance(metrics, list)
    price = next(m for m in metrics if isinstance(m, Metric) and m.metric == "price")

    detail = metrics_retrieve.sync(price.id, client=client)
    check(isinstance(detail, MetricDetail) and detail.pair == price.pair, "metric detail")

    records = metrics_records.sync(price.id, client=client, range_=Range.ONE_HOUR)
    check(isinstance(records, list) and len(records) >= 3, "raw records")
    assert isinstance(records, list)
    check(all(isinstance(r, Record) and r.value > 0 for r in records), "records are Records")

    buckets = metrics_buckets.sync(price.id, client=client, interval=Interval.ONE_MINUTE)
    check(isinstance(buckets, list) and len(buckets) >= 1, "bucketed records")
    assert isinstance(buckets, list)
    check(all(isinstance(b, Bucket) and b.count >= 1 for b in buckets), "buckets are Buckets")

    csv = metrics_records_csv.sync(price.id, client=client)
    check(isinstance(csv, str) and csv.startswith("timestamp,value\n"), "CSV")

    # Paging to the end: the next page's cursor is a declared header.
    since = datetime.now(UTC) - timedelta(hours=1)
    paged: list[Record] = []
    cursor: str | None = None
    while True:
        if cursor is None:
            page = metrics_records.sync_detailed(price.id, client=client, since=since, limit=2)
        else:
            page = metrics_records.sync_detailed(
                price.id, client=client, since=since, limit=2, cursor=cursor
            )
        check(page.status_code == 200 and isinstance(page.parsed, list), f"a page: {page}")
        assert isinstance(page.parsed, list)
        paged += [r for r in page.parsed if isinstance(r, Record)]
        cursor = page.headers.get("X-Next-Cursor")
        if cursor is None:
            break
    stamps = [r.timestamp for r in paged]
    check(len(paged) >= 3 and stamps == sorted(set(stamps)), "paging to the end")

    # Errors are typed: a field error names the parameter, anything else has a detail.
    bad = metrics_records.sync(price.id, client=client, limit=0)
    check(isinstance(bad, FieldErrors) and "limit" in bad.additional_properties, "a 400")
    missing = metrics_retrieve.sync(987654321, client=client)
    check(isinstance(missing, Error) and "987654321" in missing.detail, "a 404")
    return price.id


def sign_in_and_change(base_url: str, username: str, password: str) -> None:
    client = Client(base_url=base_url, raise_on_unexpected_status=True)
    issued = auth_token_create.sync(
        client=client, body=CredentialsRequest(username=username, password=password)
    )
    check(isinstance(issued, IssuedToken), "token login")
    assert isinstance(issued, IssuedToken)
    signed_in = AuthenticatedClient(
        base_url=base_url, token=issued.token, raise_on_unexpected_status=True
    )

    me = me_retrieve.sync(client=signed_in)
    check(isinstance(me, User) and me.username == username and me.is_staff, "/me")

    pairs = pairs_list.sync(client=signed_in)
    assert isinstance(pairs, list)
    pair = pairs[0]
    paused = pairs_partial_update.sync(
        pair.id, client=signed_in, body=PatchedPairRequest(active=False)
    )
    check(isinstance(paused, Pair) and paused.active is False, "a pair PATCH")
    resumed = pairs_partial_update.sync(
        pair.id, client=signed_in, body=PatchedPairRequest(active=True)
    )
    check(isinstance(resumed, Pair) and resumed.active is True, "a pair PATCH back")


def guess_until_throttled(client: Client, username: str) -> None:
    for _ in range(20):
        answer = auth_token_create.sync_detailed(
            client=client, body=CredentialsRequest(username=username, password="wrong guess")
        )
        if answer.status_code == 429:
            check(isinstance(answer.parsed, Error), "a 429 is an Error")
            check(int(answer.headers["Retry-After"]) > 0, "Retry-After")
            return
        check(isinstance(answer.parsed, Error), "a 401 is an Error")
    raise SystemExit("failed: no 429 after 20 wrong passwords")


def main() -> None:
    base_url, username, password = sys.argv[1:4]
    client = Client(base_url=base_url, raise_on_unexpected_status=True)
    read_anonymously(client)
    sign_in_and_change(base_url, username, password)
    guess_until_throttled(client, username)
    print("generated client: all checks passed")


if __name__ == "__main__":
    main()
