// Package natsjs prepares NATS JetStream (github.com/nats-io/nats.go) for
// eventfold's projection runners that read the log through
// watermillbus.Source over Watermill's NATS subscriber
// (github.com/ThreeDotsLabs/watermill-nats).
//
// A durable consumer keeps a runner's place in the stream between
// subscriptions, but only if the consumer outlives them: nats.go deletes a
// consumer it created itself when the subscription ends, and watermill-nats
// ends the subscription each time a Source's feed closes (runner restart,
// fault recovery, process restart). The next subscription then creates a new
// consumer that delivers the whole stream again. The Source drops the
// duplicates, so the read models stay right, but a restart after a million
// events reads a million messages.
//
// [EnsureConsumer] creates the durable push consumer up front, so nats.go
// binds to it and leaves it in place, and [Consumer.SubscribeOptions] are
// the options for watermill-nats's JetStreamConfig.SubscribeOptions that
// bind to it and acknowledge only what the runner committed:
//
//	c := natsjs.Consumer{Stream: topic, Subject: topic, Durable: durable, QueueGroup: durable}
//	if _, err := natsjs.EnsureConsumer(ctx, js, c); err != nil {
//		return err
//	}
//	sub, err := wmnats.NewSubscriber(wmnats.SubscriberConfig{
//		URL:              natsURL,
//		QueueGroupPrefix: c.QueueGroup,
//		JetStream: wmnats.JetStreamConfig{
//			DurablePrefix:    c.Durable,
//			SubscribeOptions: c.SubscribeOptions(),
//		},
//		// ...
//	}, logger)
//
// docs/operations.md ("NATS JetStream consumers") explains the settings.
package natsjs
