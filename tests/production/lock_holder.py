"""A process that takes a registry lock, says when, holds it, and says when it lets go (test_registry_lock.py).

python -m tests.production.lock_holder postgres URL NAME SECONDS
python -m tests.production.lock_holder file PATH - SECONDS
"""

import sys
import time
from pathlib import Path

from mlops_assets.infra.locks import FileLock, PostgresAdvisoryLock


def main() -> None:
    kind, target, name, seconds = sys.argv[1:5]
    lock = PostgresAdvisoryLock(target, name) if kind == "postgres" else FileLock(Path(target))
    print(f"waiting {time.time()}", flush=True)
    with lock.hold():
        print(f"acquired {time.time()}", flush=True)
        time.sleep(float(seconds))
        print(f"releasing {time.time()}", flush=True)


if __name__ == "__main__":
    main()
