from p2p_eval.cli import main

raise SystemExit(main())
