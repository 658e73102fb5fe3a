"""行政区划与医疗机构 Region tree (county / township / village) and institutions."""
