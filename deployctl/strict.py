"""`StrictModel`: the base of every value deployctl validates (recipe, LaunchSpec, state, data rows).

Unknown keys are errors (a typo must not pass silently) and values never change after they are made
(no stage of the pipeline changes its input).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
