from codatdesk.cli import main

raise SystemExit(main())
