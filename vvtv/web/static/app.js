/* dashboard: in progress */
