using MixerWorker.Testbed;

// Test tools for people and scripts (never shipped in the worker image):
//   standin [--port N]                      the MediaMTX stand-in (SRT, streamid routing, passphrases)
//   feeds --port N --count K [--project P] [--seconds S] [--width W --height H --fps F]
//                                           K synthetic cameras publishing into the stand-in
//   demo                                    the scripted show behind ./run.sh demo
//   cmdbench --redis H:P --worker DLL ...   command latency and restart convergence (bench/command-latency.sh)
// Passphrases and token come from INGEST_SRT_PASSPHRASE, OUTPUT_SRT_PASSPHRASE and MEDIAMTX__TOKEN.
return await TestbedCommands.RunAsync(args);
