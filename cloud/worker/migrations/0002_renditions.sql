-- Lower rungs (the channel's channel.renditions) and the master playlist that lists them:
-- one row per channel and playlist name ("480p", ...; "master" for the master playlist).
-- A rung's playlist follows the main one's rules (refs all stored, never goes back); refs
-- is the JSON list of the segments it names, so the main playlist's swap does not mark them
-- out of the window (hls_segments.listed) while a rung still lists them.
CREATE TABLE hls_renditions (
  channel TEXT NOT NULL,
  name TEXT NOT NULL,
  body TEXT NOT NULL,
  media_sequence INTEGER NOT NULL,
  end_sequence INTEGER NOT NULL,
  refs TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (channel, name)
);
