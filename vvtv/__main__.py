from vvtv.cli import main

raise SystemExit(main())
