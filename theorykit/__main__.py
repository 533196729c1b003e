import sys

from theorykit.cli import main

sys.exit(main())
