from vvtv.cli.run import main

raise SystemExit(main())
