import sys

from bench.notifier_scale.cli import main

sys.exit(main())
