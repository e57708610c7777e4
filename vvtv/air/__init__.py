"""On air (SPEC §1.6-1.8): from ready assets to the live stream.

``timeline`` holds the pure rules of the queue (buffer minutes, what is on air);
``status`` is the view of it the Buffer publishes (``/v1/status``, the dashboards);
``emergency`` fills below critical; ``curator`` proposes and applies reorders;
``live_playlist`` turns the timeline and the wall clock into the live HLS playlist;
``live`` is the view the web layer serves.
"""
