// Every test trains or evaluates on all cores; running them side by side would only make each slower.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
