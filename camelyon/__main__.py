import sys

from camelyon.cli import main

sys.exit(main())
