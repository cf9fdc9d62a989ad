import sys

from audio_inference_client.cli import main

sys.exit(main())
