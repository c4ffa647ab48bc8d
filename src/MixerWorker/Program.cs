using MixerWorker.Hosting;

// mixerworker                                 the worker daemon, driven through Redis (docs/redis-protocol.md)
// mixerworker ctl set|status|watch|list ...   operator client for the same protocol
// mixerworker selfcheck                       check GStreamer and plugins, exit 0 when all is there
// mixerworker run <scene.json> [--duration S] [--script show.json]
//                                             run one scene without Redis (debugging, demo, benchmarks)
return await WorkerCommandLine.RunAsync(args);
