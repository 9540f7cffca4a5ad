"""Run in a fresh interpreter by test_replay_across_processes: apply recorded parameters, print digests.

stdin: JSON ``[[shift_name, options, params], ...]``; stdout: JSON list of digests of the phantom case
shifted by each entry.
"""

from __future__ import annotations

import json
import sys

from shift_helpers import digest, make_shift, phantom


def main() -> None:
    jobs = json.loads(sys.stdin.read())
    case = phantom(with_ignore=True)
    print(json.dumps([digest(make_shift(name, **options).apply(case, params)) for name, options, params in jobs]))


if __name__ == "__main__":
    main()
