"""The county simulator (县域模拟器): plays the industry systems of Jiangyin's 34 departments.

It builds a population of market subjects and key-group persons, then writes, day by day, the
records each department's system would hold into three shapes of source system (an exchange
database, a drop folder of files, a JSON HTTP API), with defects injected at configured rates
and a ground truth kept apart.  Start with :mod:`county_sim.engine`.
"""
