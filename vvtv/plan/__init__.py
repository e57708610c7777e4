"""Planning (SPEC §1.2-1.3): from candidates to a day of plans.

``grid`` lays out the planning horizon (guardrails, the music cap, reserves); ``music``
says which plans are music and what share of a grid they fill; ``windows`` computes
when the scheduler runs discovery, the T-4h commit windows and the nightly job.
"""
