using ResidualNet.Samples;
using ResidualNet.Samples.CustomResNet;

return SampleRunner.Run(token => CustomResNetSample.Run(args, SampleConsole.System, token));
