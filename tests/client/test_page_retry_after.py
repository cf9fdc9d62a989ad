"""The page's retries (web/api.js) wait what Retry-After asks only up to 30 s, as the Python client does:
its module run in Node with `fetch` answering 503 and `setTimeout` recording the waits (no browser, no
real waiting)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.support.components import missing
from tests.support.service import REPO

PROBE = """
const api = await import(process.argv[1]);
const waits = [];
globalThis.setTimeout = (resolve, ms) => { waits.push(ms); resolve(); return 0; };
const results = {};
for (const retryAfter of JSON.parse(process.argv[2])) {
  waits.length = 0;
  globalThis.fetch = async () => ({
    status: 503,
    headers: { get: (name) => (name.toLowerCase() === "retry-after" ? retryAfter : null) },
    json: async () => ({ error: { code: "busy", message: "later" } }),
  });
  let code = null;
  try {
    await new api.Api("http://127.0.0.1:9").models();
  } catch (error) {
    code = error.code;
  }
  results[String(retryAfter)] = { waits: [...waits], code };
}
console.log(JSON.stringify(results));
"""


def waits_for(retry_afters: list[str | None]) -> dict[str, dict[str, object]]:
    node = shutil.which("node")
    if node is None:
        missing("node is not on PATH (the cdktf toolchain brings it)")
    done = subprocess.run(
        [node, "--input-type=module", "-e", PROBE, (REPO / "web" / "api.js").as_uri(), json.dumps(retry_afters)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, dict[str, object]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("retry_after", ["999999", "Wed, 21 Oct 2099 07:28:00 GMT", "9" * 40])
def test_a_huge_retry_after_waits_at_most_30_s_on_the_page(retry_after: str) -> None:
    seen = waits_for([retry_after])[retry_after]
    assert seen["code"] == "busy"
    assert seen["waits"] == [30_000, 30_000, 30_000]  # three retries, each capped


def test_a_small_retry_after_or_none_is_used_as_it_is() -> None:
    seen = waits_for(["2", None, "soon"])
    assert seen["2"]["waits"] == [2000, 2000, 2000]
    for backoff in (seen["null"]["waits"], seen["soon"]["waits"]):
        assert isinstance(backoff, list) and len(backoff) == 3 and all(0 < wait <= 30_000 for wait in backoff)
