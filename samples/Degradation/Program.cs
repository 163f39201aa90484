using ResidualNet.Samples;
using ResidualNet.Samples.Degradation;

return SampleRunner.Run(token => DegradationSample.Run(args, SampleConsole.System, token));
