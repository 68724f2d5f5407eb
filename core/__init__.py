"""What every app uses: the background-job framework, throttles, the guarded cache, spreadsheet-safe
CSV cells and the site's address. It imports none of the apps."""
