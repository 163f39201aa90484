using ResidualNet.Samples;
using ResidualNet.Samples.Classify;

return SampleRunner.Run(token => ClassifySample.Run(args, SampleConsole.System, token));
