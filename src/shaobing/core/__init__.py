"""Cross-cutting pieces every feature uses: settings, database, scope guard, audit log, i18n."""
